// import() of a file by its URL, in a module of its own: the bundled broker (scripts/bundle-cli.mjs) puts in its
// place the import that bin/flux lends, since the bundle is compiled from V8's code cache and code compiled that
// way cannot import() by itself.
export const importFile = (url: string): Promise<unknown> => import(url);
