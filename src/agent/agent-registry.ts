import type { GuestConsole } from '../core/instances/instance-service.js';
import { UnsupportedError } from '../core/errors.js';
import { GuestNotFoundError } from '../drivers/hypervisor-driver.js';
import type { AgentClient, AgentDirectory } from './agent-client.js';

/**
 * The agents this process can reach, by host id: the controller's {@link AgentDirectory} and the core's
 * {@link GuestConsole}. In single-machine mode it holds the in-process agents; a fleet would add remote clients.
 */
export class AgentRegistry implements AgentDirectory, GuestConsole {
  private readonly agents = new Map<string, AgentClient>();

  register(agent: AgentClient): void {
    this.agents.set(agent.hostId, agent);
  }

  unregister(hostId: string): void {
    this.agents.delete(hostId);
  }

  agentFor(hostId: string): AgentClient | undefined {
    return this.agents.get(hostId);
  }

  hostIds(): string[] {
    return [...this.agents.keys()];
  }

  /**
   * Empty when the host's driver has no console or the guest is gone (not created yet, or deleted meanwhile). A host
   * whose agent runs in another Kumo process is an UnsupportedError (a fleet would reach it over HTTP); an unreachable
   * host is an error the caller sees.
   */
  async consoleOutput(hostId: string, instanceUid: string, maxLines: number): Promise<string> {
    const agent = this.agents.get(hostId);
    if (!agent) {
      throw new UnsupportedError(`the console of this instance is served by the Kumo process that runs host ${hostId}`);
    }
    if (!agent.capabilities.consoleOutput) return '';
    return agent.consoleOutput(instanceUid, maxLines).catch((error: unknown) => {
      if (error instanceof GuestNotFoundError) return '';
      throw error;
    });
  }
}
