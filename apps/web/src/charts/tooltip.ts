import type uPlot from 'uplot';
import type { ChartTheme } from './theme';

/**
 * A tooltip next to the cursor with the time and every series' value at the hovered point; hidden
 * when the cursor leaves the plot. Built with DOM nodes (textContent), never HTML strings.
 */
export function tooltipPlugin(o: { theme: ChartTheme; format: (v: number) => string }): uPlot.Plugin {
  let tip: HTMLDivElement | null = null;
  const hide = () => {
    if (tip) tip.style.display = 'none';
  };
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'rv-chart-tooltip';
        tip.dataset.testid = 'chart-tooltip';
        tip.style.display = 'none';
        u.over.appendChild(tip);
        u.root.style.setProperty('--rv-chart-selection', o.theme.selection);
        u.over.addEventListener('mouseleave', hide);
      },
      setCursor: (u) => {
        const { left, top, idx } = u.cursor;
        if (!tip || idx == null || left == null || top == null || left < 0) return hide();
        const ts = u.data[0][idx];
        if (ts == null) return hide();
        tip.replaceChildren();
        const head = document.createElement('div');
        head.style.fontWeight = '600';
        head.textContent = new Date(ts).toLocaleString();
        tip.appendChild(head);
        for (let i = 1; i < u.series.length; i++) {
          const s = u.series[i]!;
          if (!s.show) continue;
          const v = u.data[i]?.[idx];
          const row = document.createElement('div');
          const dot = document.createElement('span');
          dot.className = 'rv-dot';
          dot.style.background = typeof s.stroke === 'function' ? s.stroke(u, i) as string : String(s.stroke ?? '');
          row.append(dot, `${s.label ?? ''}: ${v == null ? '—' : o.format(v)}`);
          tip.appendChild(row);
        }
        tip.style.display = 'block';
        // Beside the cursor, flipped to the left near the right edge.
        const w = tip.offsetWidth;
        const overW = u.over.clientWidth;
        tip.style.left = `${left + 12 + w > overW ? Math.max(0, left - w - 12) : left + 12}px`;
        tip.style.top = `${Math.max(0, top - 10)}px`;
      },
    },
  };
}
