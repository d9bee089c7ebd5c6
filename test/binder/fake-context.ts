import { existsSync, readFileSync } from 'node:fs';
import type { BindContext, BoundVideo, VideoReference } from '../../src/binder/index.js';

const LABELS_FILE = new URL('../../../shared/data/models/coco80_ultralytics.names', import.meta.url);

/** The COCO labels in Ultralytics spelling, as in the shared data (kept here for machines without it). */
const COCO80 = `person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign
parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie suitcase
frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard surfboard tennis_racket bottle
wine_glass cup fork knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake chair
couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard cell_phone microwave oven toaster sink
refrigerator book clock vase scissors teddy_bear hair_drier toothbrush`
  .split(/\s+/)
  .map((l) => l.replace(/_/g, ' '));

function loadLabels(): readonly string[] {
  if (!existsSync(LABELS_FILE)) return COCO80;
  return readFileSync(LABELS_FILE, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

export const LABELS: readonly string[] = Object.freeze(loadLabels());

/** A catalog with `traffic`, `campus` and `shopfront`; paths resolve when they end in a video extension. */
export function fakeContext(videos: Readonly<Record<string, string>> = {
  traffic: '/data/road_polecam.mp4',
  campus: '/data/campus_pedestrians_vtest.mp4',
  shopfront: '/data/shopfront_cctv.mp4',
}): BindContext & { readonly lookups: VideoReference[] } {
  const lookups: VideoReference[] = [];
  return {
    lookups,
    labels: LABELS,
    videoNames: () => Object.keys(videos),
    resolveVideo(ref): BoundVideo | undefined {
      lookups.push(ref);
      if (ref.kind === 'path') return /\.(mp4|avi|mkv|mov)$/i.test(ref.path) ? { name: ref.path, path: ref.path } : undefined;
      return Object.hasOwn(videos, ref.name) ? { name: ref.name, path: videos[ref.name] } : undefined;
    },
  };
}
