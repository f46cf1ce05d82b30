/** GraphQL's explicit nulls for "leave as is" fields become absent, as REST's omitted fields are. */
export const withoutNulls = (input: Record<string, unknown>, keep: string[] = []) =>
  Object.fromEntries(
    Object.entries(input).filter(([key, value]) => (value !== null && value !== undefined) || keep.includes(key)),
  );
