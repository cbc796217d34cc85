// The @nestjs/swagger CLI plugin (configured in nest-cli.json, also used by the tests' compile in
// test/setup/nest-typescript.plugin.ts), with its ESM output made loadable.
//
// With `esmCompatible`, @nestjs/swagger 11 writes a type that lives in a module as
// `(await import("./x.dto.js")).X`, also inside the synchronous `static _OPENAPI_METADATA_FACTORY()`
// and `type: () => …` thunks, where `await` is a syntax error: the compiled file does not load
// (nestjs/swagger#4079, fixed in @nestjs/swagger 12, which needs NestJS 12 and so Node >= 22).
// This wrapper writes what @nestjs/swagger 12 writes instead: one hoisted
// `import * as openapi_import_N from "./x.dto.js"` per module and `openapi_import_N.X`, or just `X`
// when the type is declared in the file itself.
//
// A .cjs file because the Nest CLI require()s its plugins. nest-cli.json names it by a path that
// the CLI resolves from <project>/node_modules, hence "../scripts/swagger-plugin.cjs".
'use strict';
const path = require('node:path');
const ts = require('typescript');
const swagger = require('@nestjs/swagger/plugin');

const LAZY_IMPORT = /\(await import\("([^"]+)"\)\)\./g;

/** @type {(options: Record<string, unknown>, program: ts.Program) => ts.TransformerFactory<ts.SourceFile>} */
function before(options, program) {
  const swaggerBefore = swagger.before(options, program);
  return (context) => {
    const transform = swaggerBefore(context);
    return (sourceFile) => hoistLazyImports(transform(sourceFile), context);
  };
}

/**
 * @param {ts.SourceFile} sourceFile
 * @param {ts.TransformationContext} context
 */
function hoistLazyImports(sourceFile, context) {
  const { factory } = context;
  /** @type {Map<string, string>} module specifier → namespace name */
  const hoisted = new Map();
  const self = withoutExtension(sourceFile.fileName);
  const namespaceFor = (specifier) => {
    if (specifier.startsWith('.') && withoutExtension(path.resolve(path.dirname(sourceFile.fileName), specifier)) === self) {
      return '';
    }
    if (!hoisted.has(specifier)) hoisted.set(specifier, `openapi_import_${hoisted.size + 1}`);
    return `${hoisted.get(specifier)}.`;
  };
  // The plugin emits each type reference as one synthetic identifier holding the whole expression.
  /** @type {(node: ts.Node) => ts.Node} */
  const visit = (node) => {
    if (ts.isIdentifier(node) && node.text.includes('await import(')) {
      return factory.createIdentifier(node.text.replace(LAZY_IMPORT, (_match, specifier) => namespaceFor(specifier)));
    }
    return ts.visitEachChild(node, visit, context);
  };
  const visited = ts.visitEachChild(sourceFile, visit, context);
  if (hoisted.size === 0) return visited;
  const imports = [...hoisted].map(([specifier, name]) =>
    factory.createImportDeclaration(
      undefined,
      factory.createImportClause(false, undefined, factory.createNamespaceImport(factory.createIdentifier(name))),
      factory.createStringLiteral(specifier),
    ),
  );
  return factory.updateSourceFile(visited, [...imports, ...visited.statements]);
}

function withoutExtension(file) {
  return path.resolve(file).replace(/\.[cm]?[jt]s$/, '');
}

module.exports = { before };
