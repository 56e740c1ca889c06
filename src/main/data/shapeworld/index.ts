/**
 * ShapeWorld, the seeded synthetic dataset of the built-in model: scenes of shapes (scene.ts), the
 * four task kinds over them (tasks.ts), datasets on disk (writer.ts) and into a workspace
 * (importer.ts).
 */
export {
  baseCategories,
  colors,
  novelCategories,
  shapeCategories,
  shapeNames,
  shapesOfSplit,
  sizes,
  textures,
  type CategorySplit,
  type ColorName,
  type ShapeCategory,
  type SizeName,
  type SplitName,
  type TextureName,
} from './vocabulary';
export { deriveSeed, Rng } from './random';
export {
  drawnThreshold,
  generateScene,
  generateSceneLayers,
  type ObjectLayer,
  type Scene,
  type SceneObject,
  type SceneOptions,
} from './scene';
export { describeScene, objectPhrase, positionPhrase, positionPhrases } from './describe';
export { parseExpression, resolveExpression, type Attributes, type Reference } from './referring';
export {
  makeClassificationTask,
  makeDetectionTask,
  makeOvdTask,
  makeRecTask,
  makeTask,
  sampleTask,
  sceneOptionsFor,
  type ClassificationTask,
  type DetectionTask,
  type OvdTask,
  type RecTask,
  type SampleOptions,
  type TaskItem,
  type TaskKind,
  type TaskOptions,
} from './tasks';
export {
  annotationsFile,
  cocoCategories,
  imageFileName,
  shapeWorldVersion,
  writeShapeWorld,
  type ShapeWorldArgs,
  type ShapeWorldSummary,
} from './writer';
export { importShapeWorld } from './importer';
