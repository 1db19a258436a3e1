/** A small SVG line chart (no dependencies): one series per engine over a sweep. */
export interface Series {
  name: string;
  points: { x: string; y: number }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function lineChartSvg(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const W = 640;
  const H = 360;
  const m = { l: 70, r: 150, t: 40, b: 50 };
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))];
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y > 0 && Number.isFinite(y));
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...ys, 1))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...ys, 10))));
  const px = (x: string) => m.l + (xs.length === 1 ? 0.5 : xs.indexOf(x) / (xs.length - 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((Math.log10(y) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - m.t - m.b);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${m.l - 4}" y1="${py(d)}" x2="${W - m.r}" y2="${py(d)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 8}" y="${py(d) + 4}" text-anchor="end">${d >= 1 ? d.toLocaleString('en') : d}</text>`);
  }
  for (const x of xs) out.push(`<text x="${px(x)}" y="${H - m.b + 18}" text-anchor="middle">${esc(x)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => p.y > 0 && Number.isFinite(p.y));
    if (pts.length) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${px(p.x)},${py(p.y)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3" fill="${c}"/>`);
    out.push(`<rect x="${W - m.r + 12}" y="${m.t + i * 20}" width="12" height="12" fill="${c}"/>`);
    out.push(`<text x="${W - m.r + 30}" y="${m.t + i * 20 + 10}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
