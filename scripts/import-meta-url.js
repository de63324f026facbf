// import.meta for the CommonJS files scripts/bundle-cli.mjs writes: `url` is the URL of the file itself, made when
// first read. pathToFileURL cost a short command ~0.4 ms (measured), and most commands never read the URL.
let url;
export const importMeta = {
  get url() {
    return (url ??= require('node:url').pathToFileURL(__filename).href);
  },
};
