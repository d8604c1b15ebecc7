/**
 * The `@example` blocks of the public API's JSDoc, and the constructors
 * that have none. The API reference (TypeDoc, `npm run docs`) renders these
 * comments; `test/docs/jsdoc-examples.test.ts` type-checks every example as
 * a consumer's program would be (importing `effect-simple-ipc` by name) and
 * lists the constructors still without one.
 *
 * The public API is what the package's root exports: one namespace per
 * module. A constructor is an exported value named `make…`, `layer…` or
 * `run`, or one whose JSDoc says `@category constructors`.
 */
import * as nodePath from "node:path"
import ts from "typescript"

/** A fenced code block of an `@example`. */
export interface Example {
  /** `Module.name`, e.g. `SimpleIpcRpc.layerProtocolServer`. */
  readonly owner: string
  /** Which of the owner's example blocks (from 1). */
  readonly index: number
  readonly code: string
  /** Where the JSDoc is, as `src/….ts:line`. */
  readonly source: string
}

/** What {@link collect} finds. */
export interface Collected {
  readonly examples: ReadonlyArray<Example>
  /** Every constructor, `Module.name`, with whether it has an example. */
  readonly constructors: ReadonlyArray<{ readonly owner: string; readonly hasExample: boolean }>
}

const CONSTRUCTOR_NAME = /^(make|layer)|^run$/
const FENCE = /```(?:ts|typescript)\s*\n([\s\S]*?)```/g

/** The text of a JSDoc tag's comment. */
const tagText = (tag: ts.JSDocTag): string =>
  typeof tag.comment === "string" ? tag.comment : ts.getTextOfJSDocComment(tag.comment) ?? ""

/** The declarations that carry a symbol's JSDoc (a variable's is on its statement). */
const documented = (declaration: ts.Declaration): ts.Node =>
  ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration

/** The options the project type-checks with, read from `tsconfig.json` at `root`. */
export const compilerOptions = (root: string): ts.CompilerOptions => {
  const file = ts.readConfigFile(nodePath.join(root, "tsconfig.json"), ts.sys.readFile)
  return ts.parseJsonConfigFileContent(file.config, ts.sys, root).options
}

/** The examples and constructors of the package whose sources are in `root/src`. */
export const collect = (root: string): Collected => {
  const index = nodePath.join(root, "src", "index.ts")
  const program = ts.createProgram([index], compilerOptions(root))
  const checker = program.getTypeChecker()
  const examples: Array<Example> = []
  const constructors: Array<{ owner: string; hasExample: boolean }> = []
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(index)!)!
  for (const namespace of checker.getExportsOfModule(moduleSymbol)) {
    const target = namespace.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(namespace) : namespace
    for (const symbol of checker.getExportsOfModule(target)) {
      const owner = `${namespace.name}.${symbol.name}`
      const declarations = symbol.declarations ?? []
      const tags = declarations.flatMap((declaration) => [...ts.getJSDocTags(documented(declaration))])
      let count = 0
      for (const tag of tags.filter((tag) => tag.tagName.text === "example")) {
        for (const match of tagText(tag).matchAll(FENCE)) {
          const file = tag.getSourceFile()
          const line = file.getLineAndCharacterOfPosition(tag.getStart()).line + 1
          examples.push({ owner, index: ++count, code: match[1]!, source: `${nodePath.relative(root, file.fileName)}:${line}` })
        }
      }
      const isValue = declarations.some((declaration) =>
        ts.isVariableDeclaration(declaration) || ts.isFunctionDeclaration(declaration)
      )
      const category = tags.find((tag) => tag.tagName.text === "category")
      if (isValue && (CONSTRUCTOR_NAME.test(symbol.name) || (category !== undefined && tagText(category).trim() === "constructors"))) {
        constructors.push({ owner, hasExample: count > 0 })
      }
    }
  }
  return { examples, constructors }
}

/**
 * Type-checks each example as a program of its own, importing
 * `effect-simple-ipc` from the sources; answers the errors, each naming
 * the example and where its JSDoc is.
 */
export const typeCheck = (root: string, examples: ReadonlyArray<Example>): ReadonlyArray<string> => {
  const options: ts.CompilerOptions = {
    ...compilerOptions(root),
    // An example shows a use; what it declares it need not use.
    noUnusedLocals: false,
    noUnusedParameters: false,
    noEmit: true
  }
  const dir = nodePath.join(root, "src", "__examples__")
  const files = new Map(examples.map((example) => [
    nodePath.join(dir, `${example.owner}.${example.index}.ts`),
    // A module of its own, even when it imports nothing.
    `${example.code}\nexport {}\n`
  ]))
  const host = ts.createCompilerHost(options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (file) => files.has(file) || fileExists.call(host, file)
  host.readFile = (file) => files.get(file) ?? readFile.call(host, file)
  host.getSourceFile = (file, language, ...rest) => {
    const text = files.get(file)
    return text === undefined ? getSourceFile.call(host, file, language, ...rest) : ts.createSourceFile(file, text, language)
  }
  const program = ts.createProgram([...files.keys()], options, host)
  const byFile = new Map(examples.map((example) => [nodePath.join(dir, `${example.owner}.${example.index}.ts`), example]))
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
    const example = diagnostic.file === undefined ? undefined : byFile.get(diagnostic.file.fileName)
    if (example === undefined || diagnostic.start === undefined) return text
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start)
    return `${example.owner} (example ${example.index}, ${example.source}), line ${line + 1} of the example: ${text}`
  })
}
