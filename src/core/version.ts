// The version this build reports (attribute "version", flux --version, overlay.hello compatibility).
export const VERSION = '0.88.0-ts';
export const VERSION_MAJOR = 0;
export const VERSION_MINOR = 88;
export const VERSION_PATCH = 0;
/** as overlay.hello carries it: MAJOR<<16 | MINOR<<8 | PATCH */
export const VERSION_CODE = (VERSION_MAJOR << 16) | (VERSION_MINOR << 8) | VERSION_PATCH;
