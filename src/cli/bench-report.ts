/**
 * BENCHMARKS.md as `luna-lab bench --only …` leaves it: the sections measured replace the
 * sections of the same name (the heading up to its first ':', e.g. "Scale:") and keep every
 * other section, so a single bench (the 89-scan scale run) does not wipe the file. Each
 * merged section names its machine itself, since the file's header describes another run.
 */
export interface BenchSection {
  title: string;
  markdown: string;
}

/** "Scale: a subset0-sized zip (89 scans)" → "Scale:"; a title without ':' is its own stem. */
function stem(title: string): string {
  const i = title.indexOf(':');
  return i < 0 ? title : title.slice(0, i + 1);
}

export function mergeSections(existing: string, sections: readonly BenchSection[], machine: string): string {
  let lines = existing.replace(/\s+$/, '').split('\n');
  for (const s of sections) {
    const body = [`## ${s.title}`, '', machine, '', s.markdown.replace(/\s+$/, ''), ''];
    const at = lines.findIndex((l) => l.startsWith('## ') && l.slice(3).startsWith(stem(s.title)));
    if (at < 0) {
      lines = [...lines, '', ...body];
      continue;
    }
    let end = lines.findIndex((l, i) => i > at && l.startsWith('## '));
    if (end < 0) end = lines.length;
    lines = [...lines.slice(0, at), ...body, ...lines.slice(end)];
  }
  return lines.join('\n').replace(/\n*$/, '\n');
}
