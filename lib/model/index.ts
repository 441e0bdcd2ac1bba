// The live address-space model (docs/architecture.md, "The model").
export { AddressSpace } from './address-space';
export type { ModelChange } from './address-space';
export { AddressSpaces } from './address-spaces';
export type { Provenance, Region, RegionAttrs, RegionClass, RegionKind, MapsEntry } from './region';
export { REGION_CLASSES, parseMaps, formatMapsLine } from './region';
export type { VerifyResult, Difference, Allowance } from './verify';
export { compareWithMaps, formatDifference } from './verify';
export { pageSize } from './page';
