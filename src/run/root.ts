// Containers live under <store root>/containers (the root is resolved by src/image/root.ts).
export const isRootless = (): boolean => process.geteuid?.() !== 0;
