import type { paths } from "./schema";

/** The JSON body a GET operation answers with 200, read from the generated OpenAPI types. */
export type Ok<P extends keyof paths, M extends "get" | "post" | "patch" | "delete" = "get"> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { "application/json": infer T } } }
    ? T
    : R extends { 201: { content: { "application/json": infer T } } }
      ? T
      : never
  : never;

export type Me = Ok<"/v1/me">;
export type Membership = Me["memberships"][number];
export type Member = Ok<"/v1/orgs/{orgId}/members">["data"][number];
export type MySession = Ok<"/v1/me/sessions">["data"][number];
export type Tenant = Ok<"/v1/platform/orgs">["data"][number];
