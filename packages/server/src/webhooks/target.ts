import { lookup as dnsLookup } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import type { HostResolver } from "../deps.ts";
import { AppError } from "../http/errors.ts";

/**
 * Where a webhook may be sent (docs/decisions/0012-webhooks-and-event-stream.md). An org admin chooses the URL,
 * so without a check Roster would make requests for them into its own network: the database, a cloud metadata
 * service, an admin port on loopback. Only public unicast addresses are allowed unless the operator sets
 * ROSTER_WEBHOOK_ALLOW_PRIVATE=true (tests, local development). The check runs when the URL is saved and
 * again on every connection, against the address actually connected to, so a name that later resolves
 * elsewhere (DNS rebinding) is refused at send time.
 */

export const systemResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

export interface TargetPolicy {
  allowPrivate: boolean;
  resolve: HostResolver;
}

/**
 * Cloud metadata services (AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba): refused even with the operator
 * flag, which is meant for receivers on loopback and the local network, never for the host's credentials.
 */
const METADATA = ["169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"].map((a) =>
  ipaddr.parse(a).toString(),
);

/** Why an address is refused, or null when it is a public unicast address (or private ones are allowed). */
export function refusedAddress(address: string, allowPrivate: boolean): string | null {
  if (!ipaddr.isValid(address)) return "not an IP address";
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (METADATA.includes(parsed.toString())) return `${address} is a cloud metadata address`;
  if (allowPrivate) return null;
  const range = parsed.range();
  // ipaddr.js names every special-purpose block (RFC 6890): loopback, private, linkLocal (which holds the
  // 169.254.169.254 metadata address), uniqueLocal, carrierGradeNat, reserved, multicast, unspecified, …
  return range === "unicast" ? null : `${address} is a ${range} address`;
}

const MAX_URL_LENGTH = 2000;

/** The URL's host as an address or a name (IPv6 literals lose their brackets). */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, "$1");

/**
 * Checks a URL an admin wants to save: https (http only with the operator flag), no credentials in it, and a
 * host whose every address is allowed. Answers the normalised URL; refusals are 422 `webhook_url_refused`.
 */
export async function checkWebhookUrl(raw: string, policy: TargetPolicy): Promise<string> {
  const refuse = (why: string) => new AppError("webhook_url_refused", why, { param: "url" });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse("`url` is not an absolute URL.");
  }
  if (raw.length > MAX_URL_LENGTH) throw refuse(`\`url\` may have at most ${MAX_URL_LENGTH} characters.`);
  const protocols = policy.allowPrivate ? ["https:", "http:"] : ["https:"];
  if (!protocols.includes(url.protocol))
    throw refuse(policy.allowPrivate ? "`url` must use http or https." : "`url` must use https.");
  if (url.username || url.password) throw refuse("`url` must not carry a user name or password.");
  if (url.hash) throw refuse("`url` must not have a #fragment.");
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await policy.resolve(host)).map((a) => a.address);
    } catch {
      throw refuse(`\`url\`: the host ${host} cannot be resolved.`);
    }
    if (addresses.length === 0) throw refuse(`\`url\`: the host ${host} cannot be resolved.`);
  }
  for (const address of addresses) {
    const why = refusedAddress(address, policy.allowPrivate);
    if (why)
      throw refuse(
        `\`url\` points at a private, loopback, link-local or metadata address (${why}); webhooks go to public addresses only.`,
      );
  }
  return url.toString();
}

/**
 * The `lookup` of an outgoing connection: resolves, refuses the connection when any address is not allowed,
 * and connects to the address that was checked (so the name cannot be resolved again to something else).
 */
export function checkedLookup(policy: TargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    policy.resolve(hostname).then(
      (addresses) => {
        const refused = addresses.map((a) => refusedAddress(a.address, policy.allowPrivate)).find(Boolean);
        const first = addresses[0];
        if (refused || !first) {
          const err = Object.assign(new Error(refused ? `refused: ${refused}` : `no address for ${hostname}`), {
            code: "EADDRREFUSED",
          });
          callback(err, "", 4);
          return;
        }
        if (options.all)
          callback(
            null,
            addresses.map((a) => ({ address: a.address, family: a.family })),
          );
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 4),
    );
  };
}
