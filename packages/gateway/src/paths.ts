export function pathnameOf(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

/** The WebSocket URL is `/{stage}`, with or without a trailing slash and query string. */
export function isStagePath(pathname: string, stage: string): boolean {
  return pathname === `/${stage}` || pathname === `/${stage}/`;
}
