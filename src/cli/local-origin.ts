/**
 * The CLI's servers (the lab, the data folder) listen on 127.0.0.1 only, and answer only
 * requests addressed to themselves: the `Host` must be `127.0.0.1:<port>` or
 * `localhost:<port>`, so a web page that rebinds its own name to 127.0.0.1 (DNS rebinding)
 * is refused; an `Origin`, when the browser sends one, must be one the server was told to
 * trust. `refusal` says why a request is refused, in words for the 403's body.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/** The names a loopback server on `port` answers to. */
export function ownHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

/** The origins a page served by a loopback server on `port` has. */
export function ownOrigins(port: number): string[] {
  return ownHosts(port).map((h) => `http://${h}`);
}

/**
 * Why a request to the loopback server on `port` must not be served, or null when it may be.
 * `origins` are the page origins allowed to send requests (a request without `Origin`, a
 * navigation or a tool like curl, is not cross-origin and is allowed).
 */
export function refusal(headers: IncomingHttpHeaders, port: number, origins: readonly string[]): string | null {
  const host = headers.host;
  if (!host) return `no Host header; this server answers only to ${ownHosts(port).join(' or ')}`;
  if (!ownHosts(port).includes(host.toLowerCase())) {
    return `Host "${host}" is not this server (${ownHosts(port).join(' or ')}): requests for other names are refused (DNS rebinding)`;
  }
  const origin = headers.origin;
  if (origin !== undefined && !origins.includes(origin.toLowerCase())) {
    return `Origin "${origin}" may not read from this server (allowed: ${origins.join(', ')})`;
  }
  return null;
}

/** Answer a refused request: 403, the reason as plain text. */
export function refuse(res: ServerResponse, reason: string): void {
  res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`forbidden: ${reason}\n`);
}
