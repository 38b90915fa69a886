import type { Project, Team } from '../../../core/tenancy/tenancy.js';

export function teamView(team: Team, projects: string[]) {
  return {
    id: team.id,
    name: team.name,
    billingStatus: team.billingStatus,
    balanceCents: team.balanceCents,
    projects,
    createdAt: team.createdAt.toISOString(),
    updatedAt: team.updatedAt.toISOString(),
  };
}

export function projectView(project: Project) {
  return { id: project.id, uid: project.uid, teamId: project.teamId, name: project.name, createdAt: project.createdAt.toISOString() };
}
