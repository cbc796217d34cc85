/**
 * Editing a function's definition as an earlier migration wrote it, for a migration that changes
 * a few lines of it: each `from` must be there exactly once, or the migration fails to load (an
 * edited earlier definition is caught at once, not applied half).
 */

/** `CREATE FUNCTION` as `CREATE OR REPLACE FUNCTION`, for a definition that replaces one that exists. */
export function orReplace(definition: string): string {
  return definition.replaceAll('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');
}

/** `definition` with each `[from, to]` applied in turn; `label` (the migration) names the one not found once. */
export function edited(label: string, definition: string, edits: readonly (readonly [from: string, to: string])[]): string {
  return edits.reduce((text, [from, to]) => {
    if (text.split(from).length !== 2) throw new Error(`${label}: ${from} was not found once`);
    return text.replace(from, to);
  }, definition);
}
