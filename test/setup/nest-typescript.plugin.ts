import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import type { Plugin } from 'vite';

/**
 * Compiles the project's TypeScript for Vitest the way `nest build` does: with the type checker's
 * decorator metadata (which esbuild cannot emit) and the @nestjs/swagger CLI plugin configured in
 * nest-cli.json, so tests exercise the same DTO validation and OpenAPI document as the build.
 */
export function nestTypescript(root: string): Plugin {
  const configPath = path.join(root, 'tsconfig.json');
  const nestCli = JSON.parse(readFileSync(path.join(root, 'nest-cli.json'), 'utf8'));
  // The swagger plugin nest-cli.json names (scripts/swagger-plugin.cjs), resolved as the Nest CLI does.
  const swagger: { name: string; options: object } = nestCli.compilerOptions.plugins.find((plugin: { name: string }) =>
    plugin.name.includes('swagger'),
  );
  const require = createRequire(import.meta.url);
  const { before: swaggerPlugin } = require(require.resolve(swagger.name, { paths: [path.join(root, 'node_modules')] })) as {
    before: (options: object, program: ts.Program) => ts.TransformerFactory<ts.SourceFile>;
  };
  const swaggerOptions = swagger.options;
  let program: ts.Program | undefined;

  const createProgram = (oldProgram?: ts.Program): ts.Program => {
    const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root);
    const options = { ...parsed.options, sourceMap: true, inlineSources: true, declaration: false, noEmit: false };
    return ts.createProgram({ rootNames: parsed.fileNames, options, oldProgram });
  };

  return {
    name: 'nest-typescript',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0];
      if (!file.endsWith('.ts') || file.includes('/node_modules/')) return null;
      program ??= createProgram();
      let source = program.getSourceFile(file);
      if (!source || source.text !== code) {
        program = createProgram(program); // a file changed (watch mode) or is new
        source = program.getSourceFile(file);
      }
      if (!source) return null;
      let js = '';
      let map = '';
      program.emit(
        source,
        (name, text) => {
          if (name.endsWith('.js.map')) map = text;
          else if (name.endsWith('.js')) js = text.replace(/\/\/# sourceMappingURL=.*$/m, '');
        },
        undefined,
        false,
        { before: [swaggerPlugin(swaggerOptions, program)] },
      );
      return { code: js, map };
    },
  };
}
