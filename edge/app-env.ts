/** Hono's typing for this Worker: bindings plus what middleware puts on the context. */
import type { Context } from "hono";
import type { Env } from "./env.ts";
import type { Runtime } from "./runtime.ts";

export type AppEnv = {
  Bindings: Env;
  Variables: { runtime: Runtime; requestId: string };
};

export type AppContext = Context<AppEnv>;
