// Module hooks that let plain `node` load @ltonetwork/lto 0.16.15: the package ships ES
// modules whose relative imports have no file extension, in a package not marked as ESM.
// Resolution retries such imports with `.js` and `/index.js`; files of the package load as
// ES modules.

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (!specifier.startsWith('.')) throw error;
    for (const suffix of ['.js', '/index.js']) {
      try {
        return await next(specifier + suffix, context);
      } catch {
        // try the next form
      }
    }
    throw error;
  }
}

export async function load(url, context, next) {
  if (url.includes('/node_modules/@ltonetwork/lto/lib/') && url.endsWith('.js')) {
    return next(url, { ...context, format: 'module' });
  }
  return next(url, context);
}
