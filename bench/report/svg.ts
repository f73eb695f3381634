import type { BenchResults } from './types.ts';

const COLORS = ['#d62728', '#ff7f0e', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b'];
const PANEL = { width: 420, height: 300, left: 64, right: 16, top: 36, bottom: 44 };

interface Line {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

/** Deliveries/s and p99 (one message at a time) against N per server: two log-log panels, hand-written SVG. */
export function chartSvg(results: BenchResults): string {
  const ns = Object.keys(results.fanOut)
    .map(Number)
    .sort((a, b) => a - b);
  const lines = (pick: 'deliveriesPerSec' | 'p99Ms'): Line[] =>
    results.series.map((s, i) => ({
      name: s.name,
      color: COLORS[i % COLORS.length] as string,
      points: ns.flatMap((n): Array<[number, number]> => {
        const value = results.fanOut[n]?.find((e) => e.series === s.name)?.result?.sequential?.[pick];
        return value !== undefined && value > 0 ? [[n, value]] : [];
      }),
    }));
  const width = PANEL.width * 2 + 20;
  const legendY = PANEL.height + 20;
  const legend = results.series
    .map((s, i) => {
      const x = 20 + (i % 3) * 280;
      const y = legendY + Math.floor(i / 3) * 18;
      const color = COLORS[i % COLORS.length];
      return `<rect x="${x}" y="${y - 9}" width="14" height="4" fill="${color}"/><text x="${x + 20}" y="${y - 3}">${esc(s.label)}</text>`;
    })
    .join('');
  const height = legendY + Math.ceil(results.series.length / 3) * 18 + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>roomcast benchmark: deliveries/s and p99 against N</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    panel(0, 'deliveries/s, one message at a time (higher is better)', ns, lines('deliveriesPerSec')),
    panel(PANEL.width + 20, 'p99 send → last delivery, ms (lower is better)', ns, lines('p99Ms')),
    legend,
    '</svg>',
  ].join('\n');
}

function panel(offsetX: number, title: string, ns: number[], lines: Line[]): string {
  const values = lines.flatMap((l) => l.points.map(([, v]) => v));
  if (values.length === 0 || ns.length === 0) return '';
  const x0 = offsetX + PANEL.left;
  const x1 = offsetX + PANEL.width - PANEL.right;
  const y0 = PANEL.height - PANEL.bottom;
  const y1 = PANEL.top;
  const [nMin, nMax] = [Math.log10(ns[0] as number), Math.log10(ns.at(-1) as number)];
  const [vMin, vMax] = [
    Math.floor(Math.log10(Math.min(...values))),
    Math.ceil(Math.log10(Math.max(...values))),
  ];
  const vSpan = Math.max(1, vMax - vMin);
  const sx = (n: number) =>
    nMax === nMin ? (x0 + x1) / 2 : x0 + ((Math.log10(n) - nMin) / (nMax - nMin)) * (x1 - x0);
  const sy = (v: number) => y0 - ((Math.log10(v) - vMin) / vSpan) * (y0 - y1);
  const out: string[] = [
    `<text x="${offsetX + PANEL.width / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let e = vMin; e <= vMin + vSpan; e++) {
    const y = sy(10 ** e).toFixed(1);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 - 6}" y="${Number(y) + 4}" text-anchor="end">${label(10 ** e)}</text>`);
  }
  for (const n of ns) {
    const x = sx(n).toFixed(1);
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${y0 + 16}" text-anchor="middle">${n.toLocaleString('en-US')}</text>`);
  }
  out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 32}" text-anchor="middle">N (clients in the room)</text>`);
  out.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#888"/>`);
  for (const line of lines) {
    if (line.points.length === 0) continue;
    const path = line.points
      .map(([n, v], i) => `${i ? 'L' : 'M'}${sx(n).toFixed(1)},${sy(v).toFixed(1)}`)
      .join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${line.color}" stroke-width="2"/>`);
    for (const [n, v] of line.points) {
      out.push(
        `<circle cx="${sx(n).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${line.color}"><title>${esc(line.name)} N=${n}: ${v.toLocaleString('en-US', { maximumFractionDigits: 1 })}</title></circle>`,
      );
    }
  }
  return out.join('\n');
}

function label(value: number): string {
  if (value >= 1e6) return `${value / 1e6}M`;
  if (value >= 1e3) return `${value / 1e3}k`;
  return String(Math.round(value * 100) / 100);
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
