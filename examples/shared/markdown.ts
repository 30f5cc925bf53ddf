/** Code blocks of a Markdown file, for the tests that run what a README shows. */

export interface CodeBlock {
  /** The fence's language tag (`ts`, `sh`, ...), or '' */
  lang: string;
  code: string;
}

/** The fenced code blocks of the section whose heading line starts with `heading`, up to the next heading of level 1-3. */
export function codeBlocks(markdown: string, heading: string): CodeBlock[] {
  const all = markdown.split('\n');
  const start = all.findIndex((line) => line.startsWith(heading));
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const lines = all.slice(start + 1);
  let fenced = false;
  const end = lines.findIndex((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && /^#{1,3} /.test(line);
  });
  const section = lines.slice(0, end < 0 ? undefined : end).join('\n');
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', code: m[2] ?? '' }));
}
