/**
 * Why a session ended. Its own module because both the session and the
 * bridge speak of it (the bridge ends sessions; the session lists bridges).
 */
export type CloseReason = "ended" | "silence" | "failed" | "shutdown" | "setup" | "backend";
