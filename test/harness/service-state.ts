import type Docker from 'dockerode';

/** What the tests compare before and after: a service's version, replicas and labels, from the real API. */
export async function serviceState(docker: Docker, name: string) {
  const raw = (await docker.getService(name).inspect()) as {
    Version: { Index: number };
    Spec: { Labels?: Record<string, string>; Mode: { Replicated?: { Replicas: number } } };
  };
  return {
    version: raw.Version.Index,
    replicas: raw.Spec.Mode.Replicated?.Replicas,
    labels: raw.Spec.Labels ?? {},
  };
}
