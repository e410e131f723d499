/** Colours of the chart in each Mantine colour scheme (axes, grid, text), and the series palette. */

export interface ChartTheme {
  axis: string;
  grid: string;
  text: string;
  cursor: string;
  selection: string;
}

export const CHART_THEMES: Record<'light' | 'dark', ChartTheme> = {
  light: { axis: '#868e96', grid: 'rgba(0,0,0,0.07)', text: '#495057', cursor: '#adb5bd', selection: 'rgba(34,139,230,0.15)' },
  dark: { axis: '#909296', grid: 'rgba(255,255,255,0.08)', text: '#c1c2c5', cursor: '#5c5f66', selection: 'rgba(77,171,247,0.2)' },
};

/** Readable on both backgrounds (Mantine's 6th shades). */
export const PALETTE = ['#228be6', '#fa5252', '#40c057', '#fab005', '#be4bdb', '#15aabf', '#fd7e14', '#82c91e', '#e64980', '#7950f2'];

export function seriesColor(i: number, explicit?: string): string {
  return explicit ?? PALETTE[i % PALETTE.length]!;
}
