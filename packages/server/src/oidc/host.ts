import type Provider from "oidc-provider";
import type { AppDeps } from "../deps.ts";
import { ensureSigningKey, KEYS_RELOAD_MS, loadSigningKeys } from "./keys.ts";
import { buildProvider } from "./provider.ts";

/**
 * Holds this instance's provider and rebuilds it when the signing keys change (`roster rotate-signing-key` on
 * any instance): the key set is read again at most once a minute, and only on OIDC requests.
 */
export class OidcHost {
  readonly #deps: AppDeps;
  #provider: Provider | null = null;
  #version = "";
  #checkedAt = 0;
  #loading: Promise<Provider> | null = null;

  constructor(deps: AppDeps) {
    this.#deps = deps;
  }

  async start(): Promise<void> {
    await ensureSigningKey(this.#deps);
    await this.#reload();
  }

  async provider(): Promise<Provider> {
    const now = this.#deps.clock.now().getTime();
    if (this.#provider && now - this.#checkedAt < KEYS_RELOAD_MS) return this.#provider;
    this.#loading ??= this.#reload().finally(() => {
      this.#loading = null;
    });
    return this.#loading;
  }

  async #reload(): Promise<Provider> {
    const keys = await loadSigningKeys(this.#deps);
    this.#checkedAt = this.#deps.clock.now().getTime();
    if (!this.#provider || keys.version !== this.#version) {
      this.#provider = buildProvider(this.#deps, keys);
      this.#version = keys.version;
    }
    return this.#provider;
  }
}

const hosts = new WeakMap<AppDeps, OidcHost>();

/** One provider per app (and per job runner) built from the same dependencies. */
export async function oidcHostFor(deps: AppDeps): Promise<OidcHost> {
  let host = hosts.get(deps);
  if (!host) {
    host = new OidcHost(deps);
    hosts.set(deps, host);
    await host.start();
  }
  return host;
}
