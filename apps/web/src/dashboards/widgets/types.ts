import type { JsonObject, TbWidget } from '../model';
import type { TbTimewindow } from '../timewindow';

/** What every widget gets: the dashboard's configuration (for aliases), its own entry, and the time window. */
export interface WidgetProps {
  config: JsonObject;
  widget: TbWidget;
  timewindow: TbTimewindow;
}

export function widgetDecimals(w: TbWidget, keyDecimals?: number): number | null {
  if (typeof keyDecimals === 'number') return keyDecimals;
  return typeof w.config.decimals === 'number' ? w.config.decimals : null;
}
export function widgetUnits(w: TbWidget, keyUnits?: string): string {
  if (keyUnits) return keyUnits;
  return typeof w.config.units === 'string' ? w.config.units : '';
}
