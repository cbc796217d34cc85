/** A LIKE pattern matching what starts with `text` (its `\`, `%` and `_` taken literally). */
export function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}
