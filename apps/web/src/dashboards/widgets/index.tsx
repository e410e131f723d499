import type { ComponentType } from 'react';
import type { WidgetKind } from '../model';
import { AlarmListWidget } from './AlarmListWidget';
import { ChartWidget } from './ChartWidget';
import { EntitiesTableWidget, GaugeWidget, ValueCardWidget } from './LatestWidgets';
import type { WidgetProps } from './types';

export const WIDGETS: Record<WidgetKind, ComponentType<WidgetProps>> = {
  chart: ChartWidget,
  card: ValueCardWidget,
  gauge: GaugeWidget,
  table: EntitiesTableWidget,
  alarms: AlarmListWidget,
};
export type { WidgetProps } from './types';
