// Placeholder until the CI/setup work lands.
export default async function setup(): Promise<void> {}
