// import.meta.url for the CommonJS files scripts/bundle-cli.mjs writes: the URL of the file itself.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
