import type { BillingStatus } from '../errors.js';

export type { BillingStatus } from '../errors.js';
export const BILLING_STATUSES: readonly BillingStatus[] = ['active', 'suspended', 'past-due', 'terminated'];

/** The billing owner of projects. */
export interface Team {
  id: string; // uuid
  name: string;
  billingStatus: BillingStatus;
  /** Balance in the smallest currency unit (cents). */
  balanceCents: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface Project {
  /** Client-visible slug, e.g. `project-x9y8z7`; unique. */
  id: string;
  /** A stable UUID for dialects that want one (Keystone project ids are this, without dashes). */
  uid: string;
  teamId: string;
  name: string;
  createdAt: Date;
}

export type Role = 'reader' | 'member' | 'admin';
export const ROLES: readonly Role[] = ['reader', 'member', 'admin'];

/** An API key as stored: only a hash of the secret is kept. */
export interface ApiKey {
  id: string;
  name: string;
  /** The project the key acts in; null for a global admin key that may cross projects. */
  projectId: string | null;
  role: Role;
  /** sha-256 of the secret, hex. */
  secretHash: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** Who is calling: resolved from a credential by the tenancy service. */
export interface Principal {
  /** Stable id of the credential (API key id), used to scope idempotency keys and rate limits. */
  id: string;
  role: Role;
  /** The project the principal is bound to; null for a global admin. */
  projectId: string | null;
}

export interface ProjectQuota {
  projectId: string;
  instances: number;
  vcpus: number;
  ramMb: number;
  publicIps: number;
}

export interface ProjectUsage {
  projectId: string;
  instances: number;
  vcpus: number;
  ramMb: number;
  publicIps: number;
}
