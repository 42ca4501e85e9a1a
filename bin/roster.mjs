#!/usr/bin/env node
// Runs the TypeScript sources directly; there is no separate build step for the server.
import { register } from "tsx/esm/api";

register();
await import("../packages/server/src/cli.ts");
