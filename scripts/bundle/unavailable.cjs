// Stands in, in the Lambda bundles, for modules that dockerode and docker-modem load but
// that swarm-reflex never uses: ssh2 (DOCKER_HOST=ssh://) and gRPC / protobuf (BuildKit
// sessions for image builds). Leaving them out saves about 700 KiB of minified code that
// every cold start would otherwise parse. Anything that really reaches for them fails loudly.
const fail = () => {
  throw new Error(
    'not available in swarm-reflex bundles (ssh DOCKER_HOST and image builds are not supported)',
  );
};
module.exports = new Proxy(fail, {
  get: (_target, key) => (key === '__esModule' ? false : fail),
  apply: fail,
  construct: fail,
});
