// PostGraphile 5 and graphile-worker 0.18 declare Node >= 22 and call Promise.withResolvers (Node
// 22); on Node 20 every PostGraphile query fails without it. Import this module before them.
type Resolvers<T> = { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void };

const promiseStatics = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
promiseStatics.withResolvers ??= <T>() => {
  const resolvers = {} as Resolvers<T>;
  resolvers.promise = new Promise<T>((resolve, reject) => Object.assign(resolvers, { resolve, reject }));
  return resolvers;
};
