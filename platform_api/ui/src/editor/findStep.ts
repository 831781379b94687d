// Find-a-step's matching: a step matches when every word of the query is in its label, id or type.

export type Findable = { id: string; label: string; type: string; typeLabel: string };

export function findSteps(steps: Findable[], query: string): Findable[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const matches = steps.filter((s) => {
    const text = `${s.label} ${s.id} ${s.type} ${s.typeLabel}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
  // a label that starts with the query first, then the others in canvas order
  const first = words.join(" ");
  const starts = (s: Findable) => (s.label.toLowerCase().startsWith(first) || s.id.toLowerCase().startsWith(first) ? 0 : 1);
  return matches.map((s, i) => ({ s, i })).sort((a, b) => starts(a.s) - starts(b.s) || a.i - b.i).map(({ s }) => s);
}
