// Shared helpers of the example programs; they live in cli/_roles_common.ts.
export * from "../cli/_roles_common.ts";
