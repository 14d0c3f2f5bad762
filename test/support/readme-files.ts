/** A fenced code block of the README: its info string (` ```ts file=src/main.ts `) and text. */
export interface ReadmeBlock {
  readonly language: string;
  /** The project file the block is, from `file=<path>` in the info string. */
  readonly file: string | undefined;
  readonly content: string;
}

/** Every fenced block of a Markdown text, in order. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  for (const match of markdown.matchAll(fence)) {
    const [language = '', ...attributes] = (match[1] ?? '').trim().split(/\s+/);
    const file = attributes.find((attribute) => attribute.startsWith('file='))?.slice(5);
    blocks.push({ language, file, content: match[2] ?? '' });
  }
  return blocks;
}

/** The packages of the README's install line (`npm install a b c`), in order. */
export function installLine(markdown: string): string[] {
  for (const block of readmeBlocks(markdown)) {
    for (const line of block.content.split('\n')) {
      const words = line.trim().split(/\s+/);
      if (words[0] === 'npm' && words[1] === 'install' && words[2] === '@fetchcraft/queue') {
        return words.slice(2);
      }
    }
  }
  throw new Error('the README has no `npm install @fetchcraft/queue …` line');
}
