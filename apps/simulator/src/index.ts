export * from './clients';
export * from './devices';
export * from './histogram';
export * from './options';
export * from './runner';
export * from './simulator';
export * from './templates';
export { runDemo, type DemoOptions, type DemoResult } from './demo';
export { progressLine, summaryText } from './format';
