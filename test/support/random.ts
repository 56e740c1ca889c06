export { seeded } from '../../src/shared/random';
