// harness/model: types only, no I/O. Everything else imports from here.
export * from './verdict.js';
export * from './target.js';
export * from './evidence.js';
export * from './check.js';
export * from './profile.js';
export * from './events.js';
export * from './report.js';
export * from './fuzz.js';
export * from './bench.js';
export * from './requirements.js';
export * from './gate.js';
export * from './ixit.js';
