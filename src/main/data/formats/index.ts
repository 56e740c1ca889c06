/**
 * Dataset import and export: a folder of images, COCO, YOLO, Pascal VOC, Visual-RFT JSON and
 * VLM-R1 JSONL. One file per format beside this one; the importer and exporter are format-blind.
 */
export { exportDataset, exportData, type ExportOptions, type ExportResult } from './exportDataset';
export { importDataset, type ImportOptions, type ImportProgress, type ImportReport } from './importDataset';
export { detectFormat } from './registry';
export { exportFormats, importFormats, type ExportFormat, type ImportFormat } from './types';
