/**
 * The bridge's Opus encoder settings, chosen by measurement (docs/bridge.md,
 * "Encoder settings"); apart from opus.ts so the host's options can name them
 * without loading a codec.
 */
export const DEFAULT_BITRATE = 32000;
/** libwebrtc's own choice on mobile: 0.56x the encoder CPU of 9 (its desktop default) here. */
export const DEFAULT_COMPLEXITY = 5;
