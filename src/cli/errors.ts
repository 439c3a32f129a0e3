// Kept so existing imports work; the class lives in src/errors.ts.
export { UserError } from '../errors.js';
