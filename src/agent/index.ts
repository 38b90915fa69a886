export * from './agent.js';
export * from './agent-client.js';
export * from './agent-registry.js';
export * from './guest-spec.js';
export * from './host-status-sink.js';
export * from './local-agent.js';
export * from './logger.js';
