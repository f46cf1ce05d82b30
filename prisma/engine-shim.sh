#!/bin/sh
# Stand-in for Prisma's native schema engine, which cannot be downloaded on offline machines.
# `prisma generate` only checks that this file exists; migrations run through `npm run db:migrate`.
echo "The native Prisma schema engine is not installed here: migrations run through 'npm run db:migrate' (WASM engine)." >&2
exit 1
