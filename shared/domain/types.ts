/** Omit over each member of a union (plain Omit would merge the members). */
export type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
