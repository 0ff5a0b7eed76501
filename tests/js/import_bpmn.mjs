// Imports BPMN files with bpmn-moddle (the model layer of bpmn.io and Camunda Modeler) and
// prints one JSON line per file: warnings, and whether the diagram draws every element.
import BpmnModdle from 'bpmn-moddle';
import fs from 'fs';

const moddle = new BpmnModdle();
for (const file of process.argv.slice(2)) {
  const result = { file, warnings: [], elements: 0, shapes: 0, error: null };
  try {
    const { rootElement, warnings } = await moddle.fromXML(fs.readFileSync(file, 'utf8'));
    result.warnings = warnings.map((w) => w.message);
    const proc = rootElement.rootElements.find((e) => e.$type === 'bpmn:Process');
    result.elements = proc.flowElements.length;
    result.shapes = rootElement.diagrams[0].plane.planeElement.length;
  } catch (e) {
    result.error = e.message;
  }
  console.log(JSON.stringify(result));
}
